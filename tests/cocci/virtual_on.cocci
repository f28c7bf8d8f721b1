// -D patch
virtual patch
virtual report

@depends on patch@
@@
- old();
+ new();
