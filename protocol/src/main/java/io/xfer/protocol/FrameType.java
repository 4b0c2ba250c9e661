package io.xfer.protocol;

/**
 * Frame type codes of protocol version 1. Values are stable on the wire; unknown values are rejected with
 * {@link ErrorCode#UNKNOWN_FRAME_TYPE}.
 */
public final class FrameType
{
    public static final int HELLO = 1;
    public static final int WELCOME = 2;
    public static final int OPEN = 3;
    public static final int OPEN_ACK = 4;
    public static final int FILE_ENTRY = 5;
    public static final int FILE_STATUS = 6;
    public static final int DATA = 7;
    public static final int FILE_END = 8;
    public static final int TRANSFER_END = 9;
    public static final int TRANSFER_DONE = 10;
    public static final int ERROR = 11;
    public static final int PING = 12;
    public static final int PONG = 13;
    public static final int CHUNK_ACK = 14;

    /** Highest type code defined by this version. */
    public static final int MAX_KNOWN = CHUNK_ACK;

    private static final int[] MIN_LENGTH = new int[MAX_KNOWN + 1];

    static
    {
        MIN_LENGTH[HELLO] = HelloFlyweight.MIN_LENGTH;
        MIN_LENGTH[WELCOME] = WelcomeFlyweight.MIN_LENGTH;
        MIN_LENGTH[OPEN] = OpenFlyweight.MIN_LENGTH;
        MIN_LENGTH[OPEN_ACK] = OpenAckFlyweight.LENGTH;
        MIN_LENGTH[FILE_ENTRY] = FileEntryFlyweight.MIN_LENGTH;
        MIN_LENGTH[FILE_STATUS] = FileStatusFlyweight.MIN_LENGTH;
        MIN_LENGTH[DATA] = DataFlyweight.HEADER_LENGTH;
        MIN_LENGTH[FILE_END] = FileEndFlyweight.LENGTH;
        MIN_LENGTH[TRANSFER_END] = TransferEndFlyweight.LENGTH;
        MIN_LENGTH[TRANSFER_DONE] = TransferDoneFlyweight.LENGTH;
        MIN_LENGTH[ERROR] = ErrorFlyweight.MIN_LENGTH;
        MIN_LENGTH[PING] = PingFlyweight.LENGTH;
        MIN_LENGTH[PONG] = PingFlyweight.LENGTH;
        MIN_LENGTH[CHUNK_ACK] = ChunkAckFlyweight.LENGTH;
    }

    private FrameType()
    {
    }

    public static boolean isKnown(final int type)
    {
        return type >= HELLO && type <= MAX_KNOWN;
    }

    /**
     * @param type a known frame type.
     * @return the smallest legal frame length for the type, header included.
     */
    public static int minLength(final int type)
    {
        return MIN_LENGTH[type];
    }

    public static String name(final int type)
    {
        switch (type)
        {
            case HELLO: return "HELLO";
            case WELCOME: return "WELCOME";
            case OPEN: return "OPEN";
            case OPEN_ACK: return "OPEN_ACK";
            case FILE_ENTRY: return "FILE_ENTRY";
            case FILE_STATUS: return "FILE_STATUS";
            case DATA: return "DATA";
            case FILE_END: return "FILE_END";
            case TRANSFER_END: return "TRANSFER_END";
            case TRANSFER_DONE: return "TRANSFER_DONE";
            case ERROR: return "ERROR";
            case PING: return "PING";
            case PONG: return "PONG";
            case CHUNK_ACK: return "CHUNK_ACK";
            default: return "UNKNOWN(" + type + ")";
        }
    }
}
