@@
identifier fn;
parameter list PS;
@@
fn(PS)
{
...
- legacy_init();
+ modern_init();
...
}
