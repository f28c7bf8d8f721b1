typedef struct Lane {
    Header hdr;
    unsigned width;
} Lane;
