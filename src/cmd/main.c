/*
 * main.c: the umbra binary. Everything is in cmd_main() so that tests can
 * drive the dispatcher without a process.
 */
#include "cmd/cmd.h"

int main(int argc, char **argv)
{
	return cmd_main(argc, argv);
}
