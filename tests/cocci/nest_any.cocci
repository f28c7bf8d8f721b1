@@
identifier fn;
expression E;
@@
fn(...)
{
<...
- old_api(E)
+ new_api(E)
...>
}
