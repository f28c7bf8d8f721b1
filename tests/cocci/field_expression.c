struct st { int a; int b; };
void f1(struct st *s, struct st *t)
{
    s->a = 0;
    t->b = 0;
    s->a = 1;
}
