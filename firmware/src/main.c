#include <stdio.h>
int main(void)
{
    char line[256];
    printf("textclf firmware ready\n");
    while (fgets(line, sizeof line, stdin)) printf("echo: %s", line);
    return 0;
}
