"""The numbers the kernels and their Python face agree on: codes, and the fields of the arrays.

Kernels take and fill plain float arrays; a field is a column index named here, so a kernel
and :mod:`.portfolio` read the same array the same way.
"""

from __future__ import annotations

# order sources
MODE_SIGNALS = 0
MODE_TARGETS = 1
MODE_MA_CROSS = 2

# signal flags (uint8 bits)
LONG_ENTRY = 1
LONG_EXIT = 2
SHORT_ENTRY = 4
SHORT_EXIT = 8

# directions a column may trade
LONG_ONLY = 0
SHORT_ONLY = 1
BOTH = 2

# how an order size is given
SIZE_AMOUNT = 0  # instrument units
SIZE_VALUE = 1  # account currency, at the signal bar's close
SIZE_PERCENT = 2  # fraction of equity (0.5 == half)

# moving-average kinds of the MA cross
MA_SIMPLE = 0
MA_EXPONENTIAL = 1

# per-asset instrument columns of ``spec``
(
    A_PRICE_INC,
    A_PRICE_UNITS,
    A_PRICE_SCALE,
    A_SIZE_INC,
    A_SIZE_UNITS,
    A_SIZE_SCALE,
    A_MULT,
    A_MIN_QTY,
    A_MIN_NOTIONAL,
    A_TAKER,
    A_MAKER,
    A_CHECK_FEE,
) = range(12)
N_ASSET_FIELDS = 12

# per-column parameters of ``columns``
C_SIZE, C_DIRECTION, C_STOP_LOSS, C_TAKE_PROFIT, C_TRAIL_PCT = range(5)
N_COLUMN_FIELDS = 5

# per-column moving-average cross of ``ma_spec``
M_KIND, M_FAST, M_SLOW = range(3)
N_MA_FIELDS = 3

# trade record fields
(
    T_ASSET,
    T_LONG,
    T_QTY,
    T_ENTRY_BAR,
    T_EXIT_BAR,
    T_ENTRY_PX,
    T_EXIT_PX,
    T_PNL,
    T_FEES,
    T_REASON,
) = range(10)
N_TRADE_FIELDS = 10
REASON_SIGNAL = 0  # other reasons are intrabar's exit kinds

# per-column summary fields
S_TRADES, S_FILLS, S_REJECTED, S_IN_MARKET, S_SAMPLES, S_FINAL_EQUITY = range(6)
N_SUMMARY_FIELDS = 6

# open position fields
O_QTY, O_AVG_PX, O_ENTRY_BAR = range(3)
N_OPEN_FIELDS = 3

# position book fields (Position's state), one row per asset
(
    P_QTY,
    P_AVG,
    P_OPENED,
    P_OPEN_NOTIONAL,
    P_CLOSED,
    P_CLOSE_NOTIONAL,
    P_TRIP_PNL,
    P_TRIP_FEES,
    P_ENTRY_BAR,
    P_LONG,
) = range(10)
N_BOOK_FIELDS = 10

# exit orders per asset
X_SL, X_TP, X_TRAILING, X_TRIGGER, X_EXTREME, X_NEXT_SL, X_NEXT_TP, X_ARM_TRAILING = range(8)
N_EXIT_FIELDS = 8
