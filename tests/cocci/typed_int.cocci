@@
int E;
@@
- abs(E)
+ iabs(E)
