@@
typedef uint64_t;
{ uint64_t, long } a;
expression b;
@@
- widen(a, b)
+ widen64(a, b)
