// allocfix: fails because tree-sitter-c reads `sizeof(long)-1` as sizeof((long)-1): unsupported, not a missed match
@@
expression n, d;
@@
- (n + d - 1) / d
+ DIV_ROUND_UP(n, d)
