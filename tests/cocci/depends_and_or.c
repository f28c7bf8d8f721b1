void b3(void)
{
    first();
    second();
    both();
    either();
    neither();
}
