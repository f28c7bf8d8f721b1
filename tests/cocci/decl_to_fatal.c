void df(void)
{
    Error *err = NULL;
    int fd = open_thing("x", 1, &err);
    if (!fd) {
        error_report_err(err);
        exit(1);
    }
    load_thing(fd, &err);
    if (err) {
        error_report_err(err);
        exit(2);
    }
}
