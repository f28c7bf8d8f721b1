@@
expression E;
@@
  E = get_ref();
  ...
- put_ref(E);
+ drop_ref(E);
