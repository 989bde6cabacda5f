#!/bin/sh
# Emits the offsets of a pie blob's exported symbols (those named
# NAME_export_*) as C constants, so the tool can find entry points.
name=$1
elf=$2
guard=$(echo "$name" | tr a-z- A-Z_)_BLOB_H
echo "#ifndef $guard"
echo "#define $guard"
echo "extern const unsigned char ${name}_blob[];"
echo "extern const unsigned long ${name}_blob_size;"
nm "$elf" | awk -v n="$name" '$3 ~ "^" n "_export_" { printf "#define %s_off 0x%sUL\n", $3, $1 }'
nm "$elf" | awk '$3 == "__bss_end" { printf "#define BLOB_MEM_SIZE_%s 0x%sUL\n", "'"$(echo $name | tr a-z A-Z)"'", $1 }'
echo "#endif"
