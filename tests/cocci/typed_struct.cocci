@@
struct device *D;
@@
- free(D);
+ device_free(D);
