void probe_main(void){}
