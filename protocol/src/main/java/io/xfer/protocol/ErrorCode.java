package io.xfer.protocol;

/**
 * Stable numeric error codes carried in ERROR frames (and in FILE_STATUS frames for per-file failures).
 * Codes are never renumbered; new codes are only added. Ranges: 1-99 protocol, 100-199 access and naming,
 * 200-299 storage and integrity, 300-399 session and service.
 */
public enum ErrorCode
{
    PROTOCOL_ERROR(1, "malformed frame"),
    UNSUPPORTED_VERSION(2, "no common protocol version"),
    UNKNOWN_FRAME_TYPE(3, "unknown frame type"),
    FRAME_TOO_LONG(4, "frame exceeds the maximum length"),
    UNEXPECTED_FRAME(5, "frame not valid in this state"),

    ACCESS_DENIED(100, "access denied"),
    NO_SUCH_MODULE(101, "no such module"),
    NOT_FOUND(102, "no such file or directory"),
    INVALID_PATH(103, "invalid path"),
    EXISTS(104, "destination exists"),

    IO_ERROR(200, "I/O error"),
    NO_SPACE(201, "no space left on device"),
    CHECKSUM_MISMATCH(202, "chunk checksum mismatch"),
    DIGEST_MISMATCH(203, "file digest mismatch"),
    SOURCE_CHANGED(204, "source file changed during transfer"),
    SOURCE_VANISHED(205, "source file vanished"),
    PERMISSION_DENIED(206, "permission denied by the file system"),
    UNSUPPORTED_FILE_TYPE(207, "unsupported file type"),

    INTERNAL(300, "internal error"),
    SHUTTING_DOWN(301, "agent is shutting down"),
    TIMEOUT(302, "timed out"),
    UNKNOWN_SESSION(303, "unknown session"),
    LIMIT_EXCEEDED(304, "limit exceeded");

    private static final ErrorCode[] BY_CODE = new ErrorCode[400];

    static
    {
        for (final ErrorCode errorCode : values())
        {
            BY_CODE[errorCode.code] = errorCode;
        }
    }

    private final int code;
    private final String description;

    ErrorCode(final int code, final String description)
    {
        this.code = code;
        this.description = description;
    }

    public int code()
    {
        return code;
    }

    public String description()
    {
        return description;
    }

    /**
     * @param code a wire code.
     * @return the matching constant, or {@code null} when the code is not known to this version.
     */
    public static ErrorCode get(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
