bool h2(Error **errp)
{
    Error *local_err = NULL;
    work(&local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return;
    }
    return true;
}
