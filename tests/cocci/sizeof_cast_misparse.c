static unsigned long words_for(unsigned long bytes)
{
    unsigned long whole = (bytes + sizeof(long)-1) / sizeof(long);

    return whole;
}
