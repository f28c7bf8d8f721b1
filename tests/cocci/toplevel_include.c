#include "qemu/osdep.h"
#include "hw/sysbus.h"

void g6(void)
{
}
