@a@
@@
first();

@b@
@@
second();

@c@
@@
never_here();

@depends on a && b@
@@
- both();
+ both_ok();

@depends on c || b@
@@
- either();
+ either_ok();

@depends on a && !(b || c)@
@@
- neither();
+ neither_ok();
