double bench_switch_ns(void);
double bench_switch_ns(void){return 0;}
