void e6(int c)
{
    int fd;
    fd = open_it();
    if (c) {
        close_it(fd);
    }
    other();
}
