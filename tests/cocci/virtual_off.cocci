virtual patch

@depends on patch@
@@
- old();
+ new();
