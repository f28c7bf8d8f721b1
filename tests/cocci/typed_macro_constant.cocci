@@
typedef uint32_t;
{ uint32_t, int } a;
expression c;
@@
- md(a, c)
+ a / c
