typedef struct Packet {
    int tag;
    Header hdr;
    const Header *prev;
    Header ring[4];
} Packet;

struct regs {
    unsigned int ctrl;
    unsigned int slots[8];
};

static Header table[4];

void queue_packet(Packet *pkt, struct regs *r, struct regs bank, void *opaque)
{
    void *cookie = opaque;
    char **names;

    post((Header *)&pkt->hdr);
    post((unsigned int *)&r->ctrl);
    post((unsigned int *)&bank.slots[2]);
    post((Header *)&table[1]);
    post((Header *)&pkt->ring[0]);
    post((int *)&pkt->hdr);
    post((Header *)&pkt->missing);
    post((Header *)&nowhere->hdr);
    post((void **)&cookie);
    post((char ***)&names);
    post((char **)&names);
}
