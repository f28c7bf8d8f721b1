#define RING_PAGES(bytes, page) (((bytes) + (page) - 1) / (page))
#define SLOT_COUNT ((MAX_ENTRIES + ENTRIES_PER_SLOT - 1) / ENTRIES_PER_SLOT)
#define ONE 1
#define TRACE_BLOCKS(len) do { \
        trace_blocks((len + 511 - 1) / 511); /* whole blocks */ \
    } while (0)
#define OPEN_ENTRY struct entry {
#define HELP "(n + d - 1) / d rounds up"

static int blocks_for(int len)
{
    return (len + 512 - 1) / 512;
}
