/* Unit tests of the closing TCP states' arithmetic (net/sk-tcp-state.c):
 * the FINs taken out of the sequence numbers and queue lengths the
 * kernel reads, the validation of the image's state fields, and the
 * window moved back before the peer's FIN (across the sequence space's
 * wrap too). */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "sk-tcp.h"

static int failed, tests;

static void ok(int cond, const char *what)
{
	tests++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", tests, what);
	if (!cond)
		failed++;
}

static TcpRepairEntry entry(uint32_t send_seq, uint32_t recv_seq, uint32_t outq, uint32_t unsent)
{
	TcpRepairEntry t = TCP_REPAIR_ENTRY__INIT;

	t.send_seq = send_seq;
	t.recv_seq = recv_seq;
	t.outq_len = outq;
	t.unsent_len = unsent;
	t.mss = 1460;
	return t;
}

static void test_dump(void)
{
	TcpRepairEntry t = entry(1000, 5000, 101, 51);

	ok(!tcp_state_dump(&t, TCP_ESTABLISHED) && !t.has_state && t.send_seq == 1000 &&
	   t.outq_len == 101, "ESTABLISHED: nothing changes, no state recorded");
	t = entry(1000, 5000, 101, 51);
	ok(!tcp_state_dump(&t, TCP_FIN_WAIT1) && t.state == TCP_FIN_WAIT1 && t.send_seq == 999 &&
	   t.recv_seq == 5000 && t.outq_len == 100 && t.unsent_len == 50 && t.fin_unsent,
	   "FIN_WAIT1, FIN behind unsent bytes: out of write_seq, SIOCOUTQ, SIOCOUTQNSD");
	t = entry(1000, 5000, 101, 0);
	ok(!tcp_state_dump(&t, TCP_FIN_WAIT1) && t.outq_len == 100 && !t.unsent_len &&
	   !t.fin_unsent, "FIN_WAIT1, FIN sent: out of SIOCOUTQ only");
	t = entry(1000, 5000, 0, 0);
	ok(!tcp_state_dump(&t, TCP_FIN_WAIT2) && t.send_seq == 999 && !t.outq_len,
	   "FIN_WAIT2: the acknowledged FIN out of write_seq");
	t = entry(1000, 5000, 7, 0);
	ok(!tcp_state_dump(&t, TCP_CLOSE_WAIT) && t.send_seq == 1000 && t.recv_seq == 4999 &&
	   t.outq_len == 7, "CLOSE_WAIT: the peer's FIN out of rcv_nxt");
	t = entry(0, 0, 1, 0);
	ok(!tcp_state_dump(&t, TCP_LAST_ACK) && t.send_seq == 0xffffffff &&
	   t.recv_seq == 0xffffffff && !t.outq_len, "LAST_ACK: both FINs, across the wrap");
	t = entry(1000, 5000, 1, 1);
	ok(!tcp_state_dump(&t, TCP_CLOSING) && !t.outq_len && !t.unsent_len && t.fin_unsent,
	   "CLOSING, the FIN alone unsent");
	t = entry(1000, 5000, 0, 0);
	ok(tcp_state_dump(&t, TCP_FIN_WAIT1) == -EPROTO, "FIN_WAIT1 with no FIN queued: refused");
}

static void test_bad(void)
{
	TcpRepairEntry t = entry(1000, 5000, 0, 0);
	static const unsigned kept[] = { TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2,
					 TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_CLOSING };
	static const unsigned other[] = { 0, TCP_SYN_SENT, TCP_SYN_RECV, TCP_TIME_WAIT, TCP_CLOSE,
					  TCP_LISTEN, 12, 13, 31, 32, 0xffffffff };
	int good = 1;

	ok(!tcp_state_bad(&t), "no state: established");
	t.has_state = 1;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		t.state = kept[i];
		good &= !tcp_state_bad(&t);
	}
	ok(good, "each kept state accepted");
	good = 1;
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		t.state = other[i];
		good &= tcp_state_bad(&t) != NULL;
	}
	ok(good, "every other state refused (SYN_SENT, LISTEN, 12, 2^32-1...)");
	t.state = TCP_CLOSE_WAIT;
	t.fin_unsent = 1;
	ok(tcp_state_bad(&t) != NULL, "an unsent FIN in CLOSE_WAIT refused");
	t.state = TCP_LAST_ACK;
	ok(!tcp_state_bad(&t), "an unsent FIN in LAST_ACK accepted");
	t.has_state = 0;
	ok(tcp_state_bad(&t) != NULL, "an unsent FIN without a state refused");
	t = entry(1000, 5000, 3, 0);
	t.has_state = 1;
	t.state = TCP_FIN_WAIT2;
	ok(tcp_state_bad(&t) != NULL, "FIN_WAIT2 with unacknowledged bytes refused");
}

static void test_window(void)
{
	TcpRepairEntry t = entry(1000, 5000, 0, 0);
	struct tcp_repair_window w = { .rcv_wup = 5001, .rcv_wnd = 100 };

	tcp_state_window(&t, &w);
	ok(w.rcv_wup == 5001 && w.rcv_wnd == 100, "ESTABLISHED: the window as read");
	t.has_state = 1;
	t.state = TCP_CLOSE_WAIT;
	tcp_state_window(&t, &w);
	ok(w.rcv_wup == 5000 && w.rcv_wnd == 101, "CLOSE_WAIT: rcv_wup before the FIN, same edge");
	w = (struct tcp_repair_window){ .rcv_wup = 4000, .rcv_wnd = 100 };
	tcp_state_window(&t, &w);
	ok(w.rcv_wup == 4000 && w.rcv_wnd == 100, "an older rcv_wup kept");
	t.recv_seq = 0xffffffff;
	w = (struct tcp_repair_window){ .rcv_wup = 0, .rcv_wnd = 100 };
	tcp_state_window(&t, &w);
	ok(w.rcv_wup == 0xffffffff && w.rcv_wnd == 101, "across the wrap");
	t.state = TCP_FIN_WAIT2;
	w = (struct tcp_repair_window){ .rcv_wup = 0, .rcv_wnd = 100 };
	tcp_state_window(&t, &w);
	ok(w.rcv_wup == 0, "FIN_WAIT2 (no FIN received): as read");
}

int main(void)
{
	test_dump();
	test_bad();
	test_window();
	ok(!strcmp(tcp_state_name(TCP_SYN_SENT), "SYN_SENT") &&
	   !strcmp(tcp_state_name(99), "unknown"), "state names");
	printf("1..%d\n", tests);
	return failed != 0;
}
