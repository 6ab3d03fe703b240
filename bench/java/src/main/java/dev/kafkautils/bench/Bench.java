package dev.kafkautils.bench;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The benchmark's Java client: Apache Kafka's own producer and consumer at their defaults
 * (idempotent, {@code acks=all}; {@code linger.ms} 5, {@code batch.size} 16 KiB,
 * {@code buffer.memory} 32 MiB; the consumer's auto commit), and Jackson for the JSON
 * payloads, as a Spring Kafka service has them.
 *
 * <p>The job comes as JSON in the last argument and the outcome goes as JSON on the last line
 * of the output, in the shapes of {@code bench/src/job.rs}, so that it is measured as every
 * other client is. The JIT warms up first, unmeasured: a producer sends for
 * {@link #WARMUP_SECONDS} before its measured seconds, a consumer reads for as long in a group
 * of its own before it reads the topic again from the start; a latency run has the job's own
 * warm-up, as every client does.
 */
public final class Bench {
  static final double WARMUP_SECONDS = 2.0;
  static final long ID = 500_000L;
  static final long TIME = 1_700_000_000_000L;
  static final int BODY_OVERHEAD = 47;
  static final double FIRST_RECORD = 60.0;
  static final double DRAIN = 5.0;
  static final long START = System.nanoTime();
  static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** The record's JSON value: the fields of every client, in the same order. */
  @JsonPropertyOrder({"id", "sent_at", "body"})
  public static final class Payload {
    public long id;
    public long sent_at;
    public String body;

    public Payload() {}

    Payload(long id, long sentAt, String body) {
      this.id = id;
      this.sent_at = sentAt;
      this.body = body;
    }
  }

  /** One client run, as the orchestrator asks for it. */
  record Job(
      String client,
      String op,
      String bootstrap,
      String topic,
      String kind,
      int size,
      double seconds,
      long count,
      String group,
      long rate,
      double warmup) {
    static Job parse(String text) throws Exception {
      JsonNode j = JSON.readTree(text);
      return new Job(
          j.get("client").asText(),
          j.get("op").asText(),
          j.get("bootstrap").asText(),
          j.get("topic").asText(),
          j.get("kind").asText(),
          j.get("size").asInt(),
          j.get("seconds").asDouble(),
          j.get("count").asLong(),
          j.get("group").asText(),
          j.get("rate").asLong(),
          j.get("warmup_seconds").asDouble());
    }

    boolean json() {
      return kind.equals("json");
    }

    String body() {
      return "x".repeat(Math.max(size - BODY_OVERHEAD, 0));
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: Bench JOB_JSON");
      System.exit(2);
    }
    Job job = Job.parse(args[0]);
    Map<String, Object> outcome =
        switch (job.op()) {
          case "produce" -> produce(job);
          case "consume" -> consume(job);
          case "latency" -> latency(job);
          default -> throw new IllegalArgumentException("no Java client for " + job.op());
        };
    System.out.println(JSON.writeValueAsString(outcome));
    System.out.flush();
    // The clients' threads are closed; nothing else should keep the JVM alive.
    System.exit(0);
  }

  static Properties producerConfig(Job job) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, job.bootstrap());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    return p;
  }

  static KafkaConsumer<byte[], byte[]> consumer(Job job, String group) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, job.bootstrap());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p);
    consumer.subscribe(List.of(job.topic()));
    return consumer;
  }

  /** Sends as fast as the producer takes records for `seconds`; counts the acknowledged. */
  static long[] send(KafkaProducer<byte[], byte[]> producer, Job job, double seconds)
      throws Exception {
    AtomicLong acked = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    String body = job.body();
    byte[] raw = new byte[job.size()];
    Arrays.fill(raw, (byte) 'x');
    long deadline = System.nanoTime() + (long) (seconds * 1e9);
    long start = System.nanoTime();
    long sent = 0;
    while (sent % 256 != 0 || System.nanoTime() < deadline) {
      byte[] value =
          job.json()
              ? JSON.writeValueAsBytes(new Payload(ID + sent % 1024, TIME + sent % 1024, body))
              : raw;
      producer.send(
          new ProducerRecord<>(job.topic(), value),
          (metadata, error) -> (error == null ? acked : failed).incrementAndGet());
      sent++;
    }
    producer.flush();
    long elapsed = System.nanoTime() - start;
    if (acked.get() != sent || failed.get() != 0) {
      throw new IllegalStateException(
          acked.get() + " of " + sent + " acknowledged, " + failed.get() + " failed");
    }
    return new long[] {sent, elapsed};
  }

  static Map<String, Object> produce(Job job) throws Exception {
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(job))) {
      send(producer, job, WARMUP_SECONDS);
      long cpu = cpuNanos();
      long[] measured = send(producer, job, job.seconds());
      return outcome(measured[0], measured[1] / 1e9, cpu, List.of(), 0);
    }
  }

  /** Reads (decodes, hands to the no-op handler) up to `count` records or for `seconds`. */
  static long[] read(KafkaConsumer<byte[], byte[]> consumer, Job job, long count, double seconds) {
    long seen = 0;
    long checksum = 0;
    long first = -1;
    long last = -1;
    long joinedBy = System.nanoTime() + (long) (FIRST_RECORD * 1e9);
    while (seen < count) {
      long now = System.nanoTime();
      if (first < 0 && now > joinedBy) {
        throw new IllegalStateException("java consumer: no record within 60 s");
      }
      if (first >= 0 && now - first >= seconds * 1e9) {
        break;
      }
      ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
      for (ConsumerRecord<byte[], byte[]> record : records) {
        if (first < 0) {
          first = System.nanoTime();
        }
        checksum += weigh(job, record.value());
        seen++;
      }
      if (!records.isEmpty()) {
        last = System.nanoTime();
      }
    }
    return new long[] {seen, first < 0 ? 0 : last - first, checksum};
  }

  static long weigh(Job job, byte[] value) {
    if (!job.json()) {
      return value.length;
    }
    try {
      return JSON.readValue(value, Payload.class).id;
    } catch (Exception e) {
      throw new IllegalStateException("a record that is not the payload's JSON", e);
    }
  }

  static Map<String, Object> consume(Job job) throws Exception {
    try (KafkaConsumer<byte[], byte[]> warm = consumer(job, job.group() + "-warmup")) {
      read(warm, job, job.count(), WARMUP_SECONDS);
    }
    long cpu = cpuNanos();
    try (KafkaConsumer<byte[], byte[]> consumer = consumer(job, job.group())) {
      long[] read = read(consumer, job, job.count(), job.seconds());
      if (read[0] == 0) {
        throw new IllegalStateException("java consumer: nothing read");
      }
      return outcome(read[0], read[1] / 1e9, cpu, List.of(), 0);
    }
  }

  static long nowNs() {
    return System.nanoTime() - START;
  }

  static Map<String, Object> latency(Job job) throws Exception {
    long cpuBefore = cpuNanos();
    long start = nowNs();
    long from = start + (long) (job.warmup() * 1e9);
    long total = (long) (job.rate() * (job.warmup() + job.seconds()));
    long measured = total - (long) Math.ceil(job.warmup() * job.rate());
    List<Long> samples = new ArrayList<>((int) (job.rate() * job.seconds() * 1.1));
    AtomicBoolean stopping = new AtomicBoolean();
    KafkaConsumer<byte[], byte[]> consumer = consumer(job, job.group());
    Thread receiver =
        new Thread(
            () -> {
              while (!stopping.get()) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                  long sentAt;
                  try {
                    sentAt = JSON.readValue(record.value(), Payload.class).sent_at;
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                  if (sentAt >= from) {
                    long latency = nowNs() - sentAt;
                    synchronized (samples) {
                      samples.add(latency);
                    }
                  }
                }
              }
              consumer.close();
            });
    receiver.start();
    String body = job.body();
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(job))) {
      for (long i = 0; i < total; i++) {
        long due = start + i * 1_000_000_000L / job.rate();
        long wait = due - nowNs();
        if (wait > 0) {
          LockSupport.parkNanos(wait);
        }
        producer.send(new ProducerRecord<>(job.topic(), JSON.writeValueAsBytes(new Payload(i, due, body))));
      }
      producer.flush();
    }
    long drainedBy = System.nanoTime() + (long) (DRAIN * 1e9);
    while (System.nanoTime() < drainedBy) {
      synchronized (samples) {
        if (samples.size() >= measured) {
          break;
        }
      }
      Thread.sleep(10);
    }
    stopping.set(true);
    receiver.join();
    List<Long> latencies;
    synchronized (samples) {
      latencies = new ArrayList<>(samples);
    }
    return outcome(
        latencies.size(), job.seconds(), cpuBefore, latencies, Math.max(measured - latencies.size(), 0));
  }

  static Map<String, Object> outcome(
      long messages, double seconds, long cpuBefore, List<Long> latencyNs, long lost)
      throws java.io.IOException {
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("messages", messages);
    o.put("seconds", seconds);
    o.put("cpu_seconds", (cpuNanos() - cpuBefore) / 1e9);
    o.put("peak_rss_kb", peakRssKb());
    o.put("latency_ns", latencyNs);
    o.put("lost", lost);
    return o;
  }

  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** The process's peak resident set (VmHWM), in KiB. */
  static long peakRssKb() throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.substring(6).trim().replace("kB", "").trim());
      }
    }
    return 0;
  }
}
