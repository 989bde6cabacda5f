/* The JSON the commands print on stdout (--json, lmproc show): strings
 * escaped so that the output stays valid whatever a path or a reason
 * holds, and the scalar fields of a stats message by their names. */
#ifndef LMPROC_JSON_H
#define LMPROC_JSON_H

#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

/* STR as a JSON string, quotes included. */
void json_str(FILE *f, const char *str);
/* "NAME": VALUE, comma-separated, for every integer, bool and double
 * field of M that is set (required ones always), in the descriptor's
 * order: the inside of an object. */
void json_pb_scalars(FILE *f, const ProtobufCMessage *m);
/* --display-stats: "Displaying WHAT stats:", then one line per field
 * json_pb_scalars() would print, "Frozen time: N us". */
void stats_display(FILE *f, const char *what, const ProtobufCMessage *m);

#endif
