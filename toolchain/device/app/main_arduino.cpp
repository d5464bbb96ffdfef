/* Console firmware for Arduino boards: type a sentence in the serial monitor (115200 baud), get
 * the label, scores and time back; `textclf validate --port` speaks the protocol of app.h. */
#if defined(ARDUINO)

#include <Arduino.h>

#include "app.h"
#include "counter.h"

void setup()
{
    /* Static storage owned by this function: the arena and the interpreter live here. */
    static classifier_context context;
    static char line[APP_LINE_BYTES];
    static char out[APP_OUT_BYTES];
    app_state state = {&context, 0};

    Serial.begin(115200);
    while (!Serial) delay(10);
    counter_start();
    if (classifier_init(&context) != TEXTCLF_OK) {
        Serial.println("error: the model could not be initialised (arena, op resolver or schema)");
        for (;;) delay(1000);
    }
    app_boot(&state, out, sizeof out);
    Serial.println(out);

    size_t length = 0;
    int truncated = 0;
    for (;;) {
        if (!Serial.available()) {
            delay(1); /* lets the RTOS idle task run (ESP32 task watchdog) */
            continue;
        }
        int c = Serial.read();
        if (c == '\r') continue;
        if (c != '\n') {
            if (length < APP_LINE_BYTES)
                line[length++] = (char)c;
            else
                truncated = 1;
            continue;
        }
        app_line(&state, line, length, truncated, out, sizeof out);
        Serial.println(out);
        length = 0;
        truncated = 0;
    }
}

void loop() {}

#endif /* ARDUINO */
