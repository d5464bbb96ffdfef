/* The shim's Serial on stdin/stdout, and main(): setup(), then loop() until stdin is exhausted. */
#include <cstdio>
#include <cstdlib>

#include "Arduino.h"

SerialShim Serial;
static int pending = -2; /* the next stdin byte, -2: not read yet */

void SerialShim::begin(unsigned long) {}

int SerialShim::available()
{
    if (pending == -2) pending = std::getchar();
    return pending != EOF;
}

int SerialShim::read()
{
    int c = available() ? pending : -1;
    pending = -2;
    return c;
}

void SerialShim::println(const char *text)
{
    std::printf("%s\n", text);
}

void delay(unsigned long) {}

unsigned long micros()
{
    return 0;
}

void setup();
void loop();

int main()
{
    setup();
    while (Serial.available()) loop();
    return 0;
}
