@@
char *E;
@@
- strlen(E)
+ qemu_strlen(E)
