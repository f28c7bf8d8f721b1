@@
identifier f =~ "^qemu_";
@@
- f(NULL);
+ f(0);
