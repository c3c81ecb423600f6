package dev.mobilekit.benchcore;

import org.json.JSONObject;

/**
 * What the platform can tell about the device, memory and temperature. The app reads Build,
 * /proc/self/status, PowerManager and the battery; a host or a test supplies its own.
 */
public interface Probes {
    /**
     * The result's device block: serial, manufacturer, model, soc, os, sdk_level, abi, cores
     * (null where unknown).
     */
    DeviceFacts device();

    /** Peak resident set and proportional set size of this process, null where unknown. */
    MemoryUsage memory();

    /** Thermal status and battery temperature now. */
    ThermalState thermal();

    /** Device facts; any field may be null. */
    final class DeviceFacts {
        public final String serial, manufacturer, model, soc, os, abi;
        public final Integer sdkLevel, cores;

        public DeviceFacts(String serial, String manufacturer, String model, String soc, String os,
                           Integer sdkLevel, String abi, Integer cores) {
            this.serial = serial;
            this.manufacturer = manufacturer;
            this.model = model;
            this.soc = soc;
            this.os = os;
            this.sdkLevel = sdkLevel;
            this.abi = abi;
            this.cores = cores;
        }

        public static final DeviceFacts UNKNOWN = new DeviceFacts(null, null, null, null, null, null, null, null);

        JSONObject toJson() {
            JSONObject o = new JSONObject();
            Json.put(o, "serial", serial);
            Json.put(o, "manufacturer", manufacturer);
            Json.put(o, "model", model);
            Json.put(o, "soc", soc);
            Json.put(o, "os", os);
            Json.put(o, "sdk_level", sdkLevel);
            Json.put(o, "abi", abi);
            Json.put(o, "cores", cores != null && cores >= 1 ? cores : null);
            return o;
        }
    }

    /** Memory figures in bytes; null where the platform does not say. */
    final class MemoryUsage {
        public final Long peakRssBytes;
        public final Long pssBytes;

        public MemoryUsage(Long peakRssBytes, Long pssBytes) {
            this.peakRssBytes = peakRssBytes;
            this.pssBytes = pssBytes;
        }

        public static final MemoryUsage UNKNOWN = new MemoryUsage(null, null);

        JSONObject toJson() {
            JSONObject o = new JSONObject();
            Json.put(o, "peak_rss_bytes", peakRssBytes != null && peakRssBytes >= 0 ? peakRssBytes : null);
            Json.put(o, "pss_bytes", pssBytes != null && pssBytes >= 0 ? pssBytes : null);
            return o;
        }
    }

    /**
     * Thermal status as the protocol names PowerManager's THERMAL_STATUS_* values ("none" ...
     * "shutdown", "unknown"), or null below Android 10; battery temperature in degrees Celsius.
     */
    final class ThermalState {
        private static final java.util.List<String> STATUSES = java.util.Arrays.asList(
                "none", "light", "moderate", "severe", "critical", "emergency", "shutdown", "unknown");

        public final String status;
        public final Double batteryTempC;

        public ThermalState(String status, Double batteryTempC) {
            if (status != null && !STATUSES.contains(status)) {
                throw new IllegalArgumentException("unknown thermal status " + status);
            }
            this.status = status;
            this.batteryTempC = batteryTempC;
        }

        public static final ThermalState UNKNOWN = new ThermalState(null, null);

        /** PowerManager.THERMAL_STATUS_NONE (0) ... THERMAL_STATUS_SHUTDOWN (6) to protocol names. */
        public static String statusName(int thermalStatus) {
            return thermalStatus >= 0 && thermalStatus <= 6 ? STATUSES.get(thermalStatus) : "unknown";
        }

        JSONObject toJson() {
            JSONObject o = new JSONObject();
            Json.put(o, "status", status);
            Json.put(o, "battery_temp_c",
                    batteryTempC != null && !batteryTempC.isNaN() && !batteryTempC.isInfinite() ? batteryTempC : null);
            return o;
        }
    }

    /** Probes that know nothing: every figure null. */
    Probes NONE = new Probes() {
        @Override
        public DeviceFacts device() {
            return DeviceFacts.UNKNOWN;
        }

        @Override
        public MemoryUsage memory() {
            return MemoryUsage.UNKNOWN;
        }

        @Override
        public ThermalState thermal() {
            return ThermalState.UNKNOWN;
        }
    };
}
