@r@
identifier fn;
@@
fn(...)
{
...
deprecated();
...
}

@@
identifier r.fn;
@@
- fn();
+ fn_checked();
