@@
identifier fn;
@@
fn(..., Error **errp)
{
<...
- abort();
+ error_setg(errp, "failed");
...>
}
