@found@
@@
legacy_mode();

@depends on !found@
@@
- old_call();
+ new_call();
