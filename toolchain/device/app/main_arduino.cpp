/* Console firmware for Arduino boards (esp32dev, nano33ble) with the TFLite Micro backend:
 * type a sentence in the serial monitor (115200 baud), get the label, scores and time back. */
#if defined(ARDUINO)

#include <Arduino.h>

#include "app.h"
#include "counter.h"

void setup()
{
    /* Static storage owned by this function: the arena and the interpreter live here. */
    static textclf_context context;
    static char line[APP_LINE_BYTES];
    static char out[512];

    Serial.begin(115200);
    while (!Serial) delay(10);
    counter_start();
    if (textclf_init(&context) != TEXTCLF_OK) {
        Serial.println("error: the model could not be initialised (arena, op resolver or schema)");
        for (;;) delay(1000);
    }
    app_format_banner(out, sizeof out);
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
            if (length < APP_LINE_BYTES) line[length++] = (char)c;
            else truncated = 1;
            continue;
        }
        app_classify_line(&context, line, length, truncated, out, sizeof out);
        Serial.println(out);
        length = 0;
        truncated = 0;
    }
}

void loop() {}

#endif /* ARDUINO */
