void old_user(void)
{
    deprecated();
}

void caller(void)
{
    old_user();
    fine_user();
}
