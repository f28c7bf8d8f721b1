#include "typed_local_header.h"
#include "hw/elsewhere/not_found.h"

void lane_reset(Lane *lane, Bus *bus)
{
    post((Header *)&lane->hdr);
    post((unsigned *)&lane->width);
    post((int *)&lane->width);
    post((Header *)&bus->hdr);
}
