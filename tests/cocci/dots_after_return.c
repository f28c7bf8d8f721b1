static int start_engine(Engine *eng, Error **errp)
{
    int ret;
    Config *cfg;

    cfg = &eng->cfg;
    if (!cfg->ready) {
        error_setg(errp, "engine is not configured");
        ret = -EINVAL;
        goto out;
    }

    ret = engine_spin_up(cfg->speed,
                         cfg->gear, errp);
    return ret;

out:
    return ret;
}
