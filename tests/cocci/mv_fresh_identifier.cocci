@@
identifier x;
fresh identifier tmp = "saved_" ## x;
expression E;
@@
- x = compute(E);
+ int tmp = compute(E);
+ x = tmp;
