void ub(void *dst)
{
    void *err = NULL;

    work(&err);
    if (err) {
        report_and_clear(dst, err);
    }
    if (err)
        other(dst, err);
}
