@a@
@@
marker_a();

@depends on ever a@
@@
- one();
+ one_ok();

@depends on never a@
@@
- two();
+ two_ok();
