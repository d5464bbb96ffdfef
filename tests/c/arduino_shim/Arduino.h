/* Just enough of the Arduino API for a sketch to compile and run on this machine
 * (tests/test_export.py: arduino-cli and the Arduino cores cannot be installed here). Serial reads
 * stdin and writes stdout; the program ends at the end of stdin. */
#ifndef ARDUINO_SHIM_H
#define ARDUINO_SHIM_H

#include <stddef.h>
#include <stdint.h>

class SerialShim
{
  public:
    void begin(unsigned long baud);
    int available();
    int read();
    void println(const char *text);
    operator bool() const
    {
        return true;
    }
};

extern SerialShim Serial;
void delay(unsigned long milliseconds);
unsigned long micros();

#endif /* ARDUINO_SHIM_H */
