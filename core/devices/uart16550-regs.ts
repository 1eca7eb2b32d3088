// Register map and bit definitions of the 16550A UART (National/TI PC16550D datasheet);
// shared by the device model, its RX buffer and tests so every bit has one named source.

export const UART_PORT_COUNT = 8;

// Register offsets (datasheet Table II, "Summary of Registers").
export const REG_DATA = 0; // RBR (read) / THR (write); DLL when LCR.DLAB
export const REG_IER = 1; // IER; DLM when LCR.DLAB
export const REG_IIR_FCR = 2; // IIR (read) / FCR (write)
export const REG_LCR = 3;
export const REG_MCR = 4;
export const REG_LSR = 5;
export const REG_MSR = 6;
export const REG_SCR = 7;

// IER bits (8.5 Interrupt Enable Register); bits 7:4 are always 0.
export const IER_ERBFI = 0x01; // received data available (+ character timeout)
export const IER_ETBEI = 0x02; // transmitter holding register empty
export const IER_ELSI = 0x04; // receiver line status
export const IER_EDSSI = 0x08; // modem status
export const IER_WRITABLE = 0x0f;

// IIR values (8.4 Interrupt Identification Register, Table IV), highest priority first.
export const IIR_NO_INT = 0x01;
export const IIR_RLSI = 0x06; // receiver line status
export const IIR_RDI = 0x04; // received data available
export const IIR_CTI = 0x0c; // character timeout indication
export const IIR_THRI = 0x02; // THR empty
export const IIR_MSI = 0x00; // modem status
export const IIR_FIFOS_ENABLED = 0xc0; // bits 7:6 set when FCR0 = 1

// FCR bits (8.3 FIFO Control Register).
export const FCR_FIFO_ENABLE = 0x01;
export const FCR_RX_RESET = 0x02;
export const FCR_TX_RESET = 0x04;
export const FCR_DMA_MODE = 0x08;
export const FCR_TRIGGER_SHIFT = 6;
export const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;

// LCR bits (8.1 Line Control Register).
export const LCR_WORD_LENGTH = 0x03;
export const LCR_STOP_BITS = 0x04;
export const LCR_PARITY_ENABLE = 0x08;
export const LCR_DLAB = 0x80;

// MCR bits (8.7 Modem Control Register); bits 7:5 are always 0.
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08; // on a PC, enables the IRQ driver onto the ISA bus
export const MCR_LOOP = 0x10;
export const MCR_WRITABLE = 0x1f;

// LSR bits (8.2 Line Status Register).
export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_PE = 0x04;
export const LSR_FE = 0x08;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
export const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI; // sources of the line status interrupt

// MSR bits (8.8 Modem Status Register): deltas in 3:0, line states in 7:4.
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
export const MSR_DELTAS = 0x0f;

export const FIFO_SIZE = 16;
/** 1.8432 MHz crystal / 16: the divisor-1 rate of a PC COM port. */
export const UART_DEFAULT_BASE_BAUD = 115200;
/** Character timeout = 4 character times without RX FIFO activity (8.4, Table IV note). */
export const TIMEOUT_CHARS = 4n;
