"""The vocabulary of :mod:`~guneamp_lib.render.nam_ops`' operation table (notebook 07).

Shared by the interpreter (compiled) and by :mod:`~guneamp_lib.render.nam_program`,
which writes the table and imports nothing compiled, so that the command line and the
engine chooser load without numba.
"""

# Operations (column C_OP of the table).
(OP_INPUT, OP_CONV, OP_ACT, OP_MUL, OP_BLEND, OP_FILM, OP_ADD, OP_SUM, OP_COPY, OP_ZERO, OP_SCALE, OP_AFFINE,
 OP_OUTPUT) = range(13)
# Columns of the table: the first row of the destination, of the source and of a second
# source; how many rows; a product's inputs, taps and dilation; where its weights and its
# bias start (an activation: its code in C_TAPS, its parameters at C_B); a flag (a product
# adds to its destination without its bias; a FiLM shifts).
C_OP, C_DST, C_SRC, C_SRC2, C_ROWS, C_CIN, C_TAPS, C_DIL, C_W, C_B, C_FLAG = range(11)
COLUMNS = 11
