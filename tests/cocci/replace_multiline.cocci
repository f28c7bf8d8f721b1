@@
expression E;
@@
- do_both(E);
+ do_first(E);
+ do_second(E);
