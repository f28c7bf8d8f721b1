void pc(int v)
{
    report_a("v=%d", v);
    report_b("plain");
}
