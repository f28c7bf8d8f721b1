void e1(int a)
{
    begin(a);
    step1();
    step2();
    end(a);
    end(a);
}
