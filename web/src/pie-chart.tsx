/** The record breakdown pie chart (loaded on demand: Recharts is most of the bundle). */
import { Cell, Legend, Pie, PieChart, Tooltip } from 'recharts';

export default function RecordPie({ data }: { data: { name: string; value: number; color: string }[] }) {
  const shown = data.filter((d) => d.value > 0);
  const summary = data.map((d) => `${d.name.toLowerCase()} ${d.value}`).join(', ');
  return (
    <figure className="pie" data-testid="record-pie">
      <div role="img" aria-label={`Record breakdown: ${summary}`}>
        <PieChart width={300} height={240}>
          <Pie
            data={shown}
            dataKey="value"
            nameKey="name"
            cx="50%"
            cy="45%"
            innerRadius={45}
            outerRadius={80}
            isAnimationActive={false}
            label={({ value }) => String(value)}
          >
            {shown.map((d) => (
              <Cell key={d.name} fill={d.color} />
            ))}
          </Pie>
          <Tooltip />
          <Legend />
        </PieChart>
      </div>
      <figcaption className="sr-only">{summary}</figcaption>
    </figure>
  );
}
