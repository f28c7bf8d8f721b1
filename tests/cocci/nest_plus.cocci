@@
identifier fn;
@@
fn(...)
{
+ trace_enter();
<+...
  risky();
...+>
}
